"""The planner workbench and the dealer portal: a FastAPI app on the run folders (`vmi serve-web`).

`web.app.create_app` builds it; `web.api` is the JSON API of DESIGN.md, `web.pages` the
server-rendered pages that use it, `web.auth` sessions, roles and CSRF, `web.users` the users
file, `web.lines` a run's lines with their planner state.
"""
