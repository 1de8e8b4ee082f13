-- CreateTable
CREATE TABLE "SsfStream" (
    "id" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "config" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'enabled',
    "reason" TEXT,
    "subjects" TEXT NOT NULL DEFAULT '[]',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "SsfStream_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SsfEvent" (
    "id" SERIAL NOT NULL,
    "streamId" TEXT NOT NULL,
    "jti" TEXT NOT NULL,
    "set" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastError" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "SsfEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "SsfStream_clientId_key" ON "SsfStream"("clientId");

-- CreateIndex
CREATE INDEX "SsfEvent_streamId_nextAttemptAt_idx" ON "SsfEvent"("streamId", "nextAttemptAt");

-- CreateIndex
CREATE UNIQUE INDEX "SsfEvent_streamId_jti_key" ON "SsfEvent"("streamId", "jti");
