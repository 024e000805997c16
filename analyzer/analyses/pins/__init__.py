"""Pinned user pages: where they are pinned, where they go, and what helpers do with them.

For every pin site (`sites`: a call to a `get_user_pages*`/`pin_user_pages*` API, or to a driver
helper that hands pinned pages out) the analysis follows the pages along the function's control flow
(`fate`), statement by statement (`events`): released, stored in a longer-lived place (`ownership`
says which places live on), handed back to the caller, or lost on some path. Helpers are summarised
bottom-up (`summaries`) so they act like the API they wrap.
"""

from gupcheck.analyses.pins.analysis import PinAnalysis, PinReleases
from gupcheck.analyses.pins.fate import Fate, Keep
from gupcheck.analyses.pins.sites import Pin, pages_key
from gupcheck.analyses.pins.summaries import PinnedOutput, PinSummary

__all__ = ["Fate", "Keep", "Pin", "PinAnalysis", "PinReleases", "PinSummary", "PinnedOutput", "pages_key"]
