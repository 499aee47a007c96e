"""astrohub: a JupyterHub science platform for astronomy on AWS, as infrastructure as code."""
