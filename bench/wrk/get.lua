-- Plain GET (tags/list). Authorization (berth only) is added with -H.
wrk.method = "GET"
wrk.headers["Accept"] = "application/json"
