-- A leaver anonymised (HR, under APPI/GDPR): when their name, email and employee number were
-- replaced. Their sign-ups and attendance stay, so the statistics do not change.
ALTER TABLE users ADD COLUMN anonymised_at timestamptz;
