"""Engagements (评价项目): models, services, forms, views and templates."""
