"""Measurement protocols other than the engine's own: the article's, reproduced as it was."""

from benchlib.protocols.article import (
    ARTICLE_ORDER,
    DISPLAY_NAMES,
    ArticleProtocol,
    ArticleRun,
    FrameworkResult,
    load_published,
    run_article_protocol,
)

__all__ = [
    "ARTICLE_ORDER",
    "DISPLAY_NAMES",
    "ArticleProtocol",
    "ArticleRun",
    "FrameworkResult",
    "load_published",
    "run_article_protocol",
]
