"""Request and response models of the admin API, one module per area; `common` holds the shared types."""
