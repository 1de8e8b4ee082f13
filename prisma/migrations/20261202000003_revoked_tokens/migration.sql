-- CreateTable
CREATE TABLE "RevokedToken" (
    "jti" TEXT NOT NULL PRIMARY KEY,
    "clientId" TEXT NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "revokedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE INDEX "RevokedToken_expiresAt_idx" ON "RevokedToken"("expiresAt");

-- CreateIndex
CREATE INDEX "RevokedToken_revokedAt_idx" ON "RevokedToken"("revokedAt");

-- CreateTable
CREATE TABLE "GrantAccessToken" (
    "jti" TEXT NOT NULL PRIMARY KEY,
    "grantId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "expiresAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "GrantAccessToken_grantId_idx" ON "GrantAccessToken"("grantId");

-- CreateIndex
CREATE INDEX "GrantAccessToken_expiresAt_idx" ON "GrantAccessToken"("expiresAt");
