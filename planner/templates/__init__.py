"""Jinja2 templates of the planner's report (a package so that wheels ship the *.j2 files)."""
