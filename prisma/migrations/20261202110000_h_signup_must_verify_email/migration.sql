-- Self-registered users must verify their email address before their first sign-in (issue 14 §4).
ALTER TABLE "User" ADD COLUMN "mustVerifyEmail" BOOLEAN NOT NULL DEFAULT false;
