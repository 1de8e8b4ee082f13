-- Resource scopes name the roles that may hold them (issue 10 §1).
ALTER TABLE "Resource" ADD COLUMN "scopeDetails" TEXT NOT NULL DEFAULT '{}';
