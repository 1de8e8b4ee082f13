-- Access token signing algorithm per resource (issue 16 §1); new and existing resources default to ES256.
ALTER TABLE "Resource" ADD COLUMN "accessTokenSigningAlg" TEXT NOT NULL DEFAULT 'ES256';
