"""The email templates, by language: Jinja2 text and HTML read as package data by mail/."""
