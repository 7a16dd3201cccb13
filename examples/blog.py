"""A small blog: articles with their comments and tags, listed a page at a time.

An ``Article`` has many ``Comment`` objects (one-to-many) and shares ``Tag``
objects with other articles (many-to-many, through the ``article_tags``
table). Every function takes the ``Session`` to work in, and none of them
commits: the caller decides where the transaction ends. ``list_articles()``
returns one page of articles, newest first, each with its tags and its number
of comments, in three SELECTs whatever the size of the page, and says how
many pages there are.

Run it from the command line on a database made for the purpose (it creates
its tables afresh):

    python -m examples.blog sqlite:///blog.db

or hand ``main()`` an engine of your own:

```python
from sqlalchemy import create_engine

from examples import blog

blog.main(create_engine("sqlite://"))
```
"""

# --8<-- [start:imports]
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from math import ceil

from sqlalchemy import Column, Engine, ForeignKey, String, Table, Text, event, func, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)

# --8<-- [end:imports]


# --8<-- [start:models]
class Base(DeclarativeBase):
    """Every model of the blog derives from this."""


#: Which article carries which tag: the table behind the many-to-many.
article_tags = Table(
    "article_tags",
    Base.metadata,
    Column("article_id", ForeignKey("articles.id"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
)


class Article(Base):
    """A published post, with its comments and its tags."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    published_on: Mapped[date]
    comments: Mapped[list["Comment"]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="Comment.id"
    )
    tags: Mapped[list["Tag"]] = relationship(
        secondary=article_tags, back_populates="articles", order_by="Tag.name"
    )

    def __repr__(self) -> str:
        return f"Article(id={self.id!r}, title={self.title!r})"


class Comment(Base):
    """A reader's comment on one article."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    article: Mapped[Article] = relationship(back_populates="comments")


class Tag(Base):
    """A word that groups articles; names are unique, in lower case."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    articles: Mapped[list[Article]] = relationship(
        secondary=article_tags, back_populates="tags", order_by=Article.id
    )


# --8<-- [end:models]


# --8<-- [start:errors]
class BlogError(Exception):
    """A request the blog refuses; its message is one sentence."""


class NoSuchArticle(BlogError, LookupError):
    """No article has that id."""


class InvalidInput(BlogError, ValueError):
    """A title, comment, tag or page number that the blog does not accept."""


def _text(value: str, what: str, longest: int | None = None) -> str:
    value = value.strip()
    if not value or (longest is not None and len(value) > longest):
        limit = f"1 to {longest} characters" if longest else "some text"
        raise InvalidInput(f"{what} needs {limit}")
    return value


# --8<-- [end:errors]


# --8<-- [start:writing]
def publish(
    session: Session, title: str, body: str, published_on: date, tags: Iterable[str] = ()
) -> Article:
    """Publish an article with its tags; the caller commits.

    Tags are found by name, in lower case, and created when new, with one
    SELECT for all of them.

    Raises:
        InvalidInput: the title, the body or a tag is blank or too long.
    """
    names = sorted({_text(tag, "a tag", 50).lower() for tag in tags})
    existing = session.scalars(select(Tag).where(Tag.name.in_(names))).all() if names else []
    known = {tag.name: tag for tag in existing}
    article = Article(
        title=_text(title, "a title", 200),
        body=_text(body, "an article"),
        published_on=published_on,
        tags=[known.get(name) or Tag(name=name) for name in names],
    )
    session.add(article)
    return article


def add_comment(session: Session, article_id: int, author: str, body: str) -> Comment:
    """Add a reader's comment to an article; the caller commits.

    Raises:
        NoSuchArticle: no article has that id.
        InvalidInput: the author or the comment is blank, or the author too long.
    """
    article = session.get(Article, article_id)
    if article is None:
        raise NoSuchArticle(f"there is no article with id {article_id}")
    comment = Comment(author=_text(author, "an author", 100), body=_text(body, "a comment"))
    article.comments.append(comment)
    return comment


# --8<-- [end:writing]


# --8<-- [start:pages]
@dataclass
class Page:
    """One page of articles: each with its number of comments, and where the page stands."""

    articles: list[tuple[Article, int]]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages the articles fill; an empty blog has one, empty, page."""
        return max(1, ceil(self.total / self.per_page))


def list_articles(
    session: Session, number: int = 1, per_page: int = 10, tag: str | None = None
) -> Page:
    """Page ``number`` of the articles, newest first, optionally those with ``tag``.

    Three SELECTs whatever ``per_page`` is: the count, the page's articles
    with their numbers of comments, and the tags of all of them at once. The
    order ends with the id, so that articles published on the same day keep
    their places from one page to the next. A page past the last is empty.

    Returns:
        The page: its articles, newest first, each with its number of comments,
        and the count of all the articles the page is cut from.

    Raises:
        InvalidInput: ``number`` is below 1, or ``per_page`` is not 1 to 100.
    """
    if number < 1:
        raise InvalidInput(f"page {number} does not exist; pages start at 1")
    if not 1 <= per_page <= 100:
        raise InvalidInput("a page holds 1 to 100 articles")
    chosen = select(Article.id)
    if tag is not None:
        chosen = chosen.join(Article.tags).where(Tag.name == tag.strip().lower())
    total = session.scalar(select(func.count()).select_from(chosen.subquery()))
    comments = (
        select(func.count(Comment.id))
        .where(Comment.article_id == Article.id)
        .correlate(Article)
        .scalar_subquery()
    )
    query = (
        select(Article, comments)
        .where(Article.id.in_(chosen))
        .options(selectinload(Article.tags))
        .order_by(Article.published_on.desc(), Article.id.desc())
        .limit(per_page)
        .offset((number - 1) * per_page)
    )
    rows = session.execute(query).all()
    return Page([(article, count) for article, count in rows], number, per_page, total)


def read_article(session: Session, article_id: int) -> Article:
    """One article with its comments and tags loaded.

    Raises:
        NoSuchArticle: no article has that id.
    """
    # The tags joined into the article's own SELECT, the comments in one more: the
    # same two statements, in the same order, on every run.
    query = (
        select(Article)
        .where(Article.id == article_id)
        .options(joinedload(Article.tags), selectinload(Article.comments))
    )
    article = session.scalars(query).unique().one_or_none()
    if article is None:
        raise NoSuchArticle(f"there is no article with id {article_id}")
    return article


# --8<-- [end:pages]


# --8<-- [start:main]
def main(engine: Engine) -> None:
    """Create the tables afresh, publish and comment, then read the blog page by page."""
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for day, title, tags in [
            (1, "Hello, blog", ["news"]),
            (3, "Mapping classes", ["SQLAlchemy", "orm"]),
            (3, "Sessions explained", ["sqlalchemy", "ORM "]),
            (7, "Loading without N+1", ["sqlalchemy", "performance"]),
            (9, "What we learned", ["news"]),
        ]:
            publish(session, title, f"The text of {title!r}.", date(2030, 5, day), tags)
        session.commit()
        first = session.scalars(select(Article).where(Article.title == "Mapping classes")).one()
        first_id = first.id
        add_comment(session, first_id, "Grace", "Clear, thanks")
        add_comment(session, first_id, "Alan", "More please")
        for article_id, author, body in [(first_id, "Eve", "  "), (404, "Mallory", "First!")]:
            try:
                add_comment(session, article_id, author, body)
            except BlogError as refused:
                print(f"A comment by {author} is refused: {refused}")
        session.commit()

    statements = []

    def count(connection, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    with Session(engine) as session:
        event.listen(engine, "before_cursor_execute", count)
        try:
            for number, tag in [(1, None), (2, None), (3, None), (1, "SQLAlchemy")]:
                page = list_articles(session, number, per_page=2, tag=tag)
                print(f"Page {page.number} of {page.pages}" + (f", tagged {tag}" if tag else ""))
                for article, comments in page.articles:
                    tags = ", ".join(tag.name for tag in article.tags)
                    print(f"  {article.published_on} {article.title} [{tags}] {comments} comments")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        print(f"Four pages took {len(statements)} statements")
        try:
            list_articles(session, 0)
        except BlogError as refused:
            print(f"Asking for page 0 is refused: {refused}")
        article = read_article(session, first_id)
        print(f"{article.title}: {[(c.author, c.body) for c in article.comments]}")


# --8<-- [end:main]


if __name__ == "__main__":
    import sys

    from examples.command_line import run

    sys.exit(run(main, "sqlite:///blog.db"))
