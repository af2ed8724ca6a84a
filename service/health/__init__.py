"""The one health monitor of every component; everything else reads its results."""
