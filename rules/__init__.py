"""Pure CRM decisions on plain values: no DB session, no network."""
