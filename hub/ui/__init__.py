"""The web page at ``/ui``: the pool, recent calls and a trace waterfall per call.

Plain HTML, CSS and one script, served by the hub from this package's ``static/`` files (no CDN, no
build step); ``hub.api.ui`` serves them and the page's JSON.
"""

from hub.ui.assets import Asset, load_assets

__all__ = ["Asset", "load_assets"]
