"""The Clustering page's parts, by concern: sidebar (the choices, as a View in the URL), steps (what may run as a
background job), maps (the map and its selection), results (scores, clusters, sweeps, export)."""
