"""WarmySender API access: the client, the per-workspace rate limiter and the retry policy."""

from sheetsync.api.client import WarmySenderClient
from sheetsync.api.ratelimit import RateLimiter, forget_limiters, limiter_for
from sheetsync.retry import RetryPolicy

__all__ = ["RateLimiter", "RetryPolicy", "WarmySenderClient", "forget_limiters", "limiter_for"]
