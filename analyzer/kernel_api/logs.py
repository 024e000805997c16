"""Calls that only print: their arguments are read and formatted, never kept, and a call to them does
nothing about an error it reports."""

from __future__ import annotations

LOG_CALLS = frozenset(
    {
        "printk", "_printk", "no_printk", "pr_debug", "pr_info", "pr_notice", "pr_warn", "pr_err",
        "pr_crit", "pr_alert", "pr_emerg", "pr_cont", "pr_info_ratelimited", "pr_err_ratelimited",
        "pr_warn_ratelimited", "pr_warn_once", "pr_err_once", "pr_info_once",
        "dev_dbg", "dev_info", "dev_notice", "dev_warn", "dev_err", "dev_crit", "dev_printk",
        "dev_err_ratelimited", "dev_warn_ratelimited", "dev_info_ratelimited", "dev_dbg_ratelimited",
        "netdev_dbg", "netdev_info", "netdev_warn", "netdev_err",
        # what those macros expand to (dynamic debug, the device log helpers)
        "__dynamic_pr_debug", "__dynamic_dev_dbg", "__dynamic_netdev_dbg", "_dev_info", "_dev_notice",
        "_dev_warn", "_dev_err", "_dev_crit", "_dev_alert", "_dev_emerg", "__dev_printk",
        "netdev_printk", "WARN", "WARN_ON", "WARN_ONCE", "WARN_ON_ONCE",
    }
)  # fmt: skip
