-- CreateTable
CREATE TABLE "SsfStream" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "clientId" TEXT NOT NULL,
    "config" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'enabled',
    "reason" TEXT,
    "subjects" TEXT NOT NULL DEFAULT '[]',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "SsfEvent" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "streamId" TEXT NOT NULL,
    "jti" TEXT NOT NULL,
    "set" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastError" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE UNIQUE INDEX "SsfStream_clientId_key" ON "SsfStream"("clientId");

-- CreateIndex
CREATE INDEX "SsfEvent_streamId_nextAttemptAt_idx" ON "SsfEvent"("streamId", "nextAttemptAt");

-- CreateIndex
CREATE UNIQUE INDEX "SsfEvent_streamId_jti_key" ON "SsfEvent"("streamId", "jti");
