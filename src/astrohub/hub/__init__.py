"""Code that runs inside the hub (shipped into the hub image through the chart's hub.extraFiles)."""
