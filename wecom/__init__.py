"""The WeCom protocol edge: crypto, typed events, the API client and a fake WeCom. No CRM in here."""
