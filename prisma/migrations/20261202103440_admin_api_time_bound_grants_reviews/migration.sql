-- AlterTable
ALTER TABLE "Client" ADD COLUMN "disabledAt" DATETIME;

-- CreateTable
CREATE TABLE "AdminRoleRequest" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "subject" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "hours" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "requestedBy" TEXT NOT NULL,
    "decidedBy" TEXT,
    "decidedAt" DATETIME,
    "decisionNote" TEXT,
    "startsAt" DATETIME,
    "expiresAt" DATETIME,
    "expiryAudited" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "AccessReview" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "createdBy" TEXT NOT NULL,
    "completedBy" TEXT,
    "completedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "AccessReviewItem" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "reviewId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "entitlement" TEXT NOT NULL,
    "lastUsedAt" DATETIME,
    "detail" TEXT NOT NULL DEFAULT '{}',
    "decision" TEXT NOT NULL DEFAULT 'pending',
    "decidedBy" TEXT,
    "decidedAt" DATETIME,
    "note" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "AdminRoleRequest_subject_status_idx" ON "AdminRoleRequest"("subject", "status");

-- CreateIndex
CREATE INDEX "AdminRoleRequest_status_expiresAt_idx" ON "AdminRoleRequest"("status", "expiresAt");

-- CreateIndex
CREATE INDEX "AdminRoleRequest_createdAt_id_idx" ON "AdminRoleRequest"("createdAt", "id");

-- CreateIndex
CREATE INDEX "AccessReview_createdAt_id_idx" ON "AccessReview"("createdAt", "id");

-- CreateIndex
CREATE INDEX "AccessReviewItem_reviewId_id_idx" ON "AccessReviewItem"("reviewId", "id");
