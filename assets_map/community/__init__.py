"""Community ownership: joint sites, partners nearby, catchments, routes to ownership, the site finder, site card and site pack."""
