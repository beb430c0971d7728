"""Flask blueprints for the HTTP doors: WeCom's callback, the admin API (sidebar and OAuth come later)."""
