-- Nothing on SQLite: an embedded installation holds few enough upcoming events that the text
-- filter runs over the (status, starts_at) index range. The migration exists so both backends
-- carry the same version list.
SELECT 1;
