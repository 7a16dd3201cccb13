"""The blog of examples/blog.py, on every selected database."""

from datetime import date

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from examples import blog
from examples.blog import Article, Tag
from examples.sqlite_transactions import take_over_sqlite_transactions


@pytest.fixture
def engine(engine):
    """The programs' engine: on SQLite, SQLAlchemy begins transactions, as savepoints need."""
    return take_over_sqlite_transactions(engine)


@pytest.fixture
def published(engine):
    """Seven articles, two on the same day, some tagged "orm", one with comments."""
    blog.Base.metadata.create_all(engine)
    with Session(engine) as session:
        for day, tags in [(1, []), (2, ["orm"]), (2, ["ORM", "news"]), (4, []), (5, ["orm"])]:
            blog.publish(session, f"Day {day}", "Text", date(2030, 1, day), tags)
        blog.publish(session, "Day 6", "Text", date(2030, 1, 6), ["news"])
        blog.publish(session, "Day 7", "Text", date(2030, 1, 7))
        query = select(Article.id).where(Article.title == "Day 2").order_by(Article.id)
        second = session.scalars(query).first()
        blog.add_comment(session, second, "Grace", "Clear")
        blog.add_comment(session, second, "Alan", "More")
        session.commit()
    return engine


def recorder(sent: list[str]):
    def record(connection, cursor, statement, parameters, context, executemany) -> None:
        sent.append(statement)

    return record


def shown(page: blog.Page) -> list[tuple[str, list[str], int]]:
    return [(a.title, [t.name for t in a.tags], n) for a, n in page.articles]


def test_pages_are_newest_first_and_stable_within_a_day(published):
    with Session(published) as session:
        pages = [blog.list_articles(session, number, per_page=3) for number in (1, 2, 3, 4)]
    assert [[title for title, _, _ in shown(page)] for page in pages] == [
        ["Day 7", "Day 6", "Day 5"],
        ["Day 4", "Day 2", "Day 2"],
        ["Day 1"],
        [],  # past the last page: empty, not an error
    ]
    assert [page.pages for page in pages] == [3, 3, 3, 3]
    assert shown(pages[1])[1:] == [("Day 2", ["news", "orm"], 0), ("Day 2", ["orm"], 2)]


def test_a_tag_narrows_the_pages_and_is_matched_in_any_case(published):
    with Session(published) as session:
        page = blog.list_articles(session, 1, per_page=2, tag=" ORM")
    assert (page.total, page.pages) == (3, 2)
    assert [title for title, _, _ in shown(page)] == ["Day 5", "Day 2"]


def test_tags_are_shared_not_duplicated(published):
    with Session(published) as session:
        assert session.scalars(select(Tag.name).order_by(Tag.name)).all() == ["news", "orm"]
        orm = session.scalars(select(Tag).where(Tag.name == "orm")).one()
        assert [article.title for article in orm.articles] == ["Day 2", "Day 2", "Day 5"]


@pytest.mark.parametrize("per_page", [1, 2, 7, 100])
def test_a_page_takes_three_statements_whatever_its_size(published, per_page):
    sent = []
    with Session(published) as session:
        event.listen(published, "before_cursor_execute", recorder(sent))
        page = blog.list_articles(session, 1, per_page=per_page)
        read = [(article.title, [tag.name for tag in article.tags]) for article, _ in page.articles]
    assert len(read) == min(per_page, 7)
    assert len(sent) == 3, sent


@pytest.mark.parametrize(
    ("number", "per_page", "message"),
    [
        (0, 10, "page 0 does not exist; pages start at 1"),
        (-1, 10, "page -1 does not exist"),
        (1, 0, "a page holds 1 to 100 articles"),
        (1, 101, "a page holds 1 to 100 articles"),
    ],
)
def test_bad_page_numbers_and_sizes_are_refused(number, per_page, message):
    with Session() as session, pytest.raises(blog.InvalidInput, match=message):
        blog.list_articles(session, number, per_page)


def test_an_empty_blog_has_one_empty_page(engine):
    blog.Base.metadata.create_all(engine)
    with Session(engine) as session:
        page = blog.list_articles(session)
    assert (page.articles, page.total, page.pages) == ([], 0, 1)


def test_a_comment_needs_an_article_an_author_and_some_text(published):
    with Session(published) as session:
        first = session.scalars(select(Article.id).where(Article.title == "Day 1")).one()
        with pytest.raises(blog.NoSuchArticle, match="no article with id 999"):
            blog.add_comment(session, 999, "Mallory", "First!")
        with pytest.raises(blog.InvalidInput, match="a comment needs some text"):
            blog.add_comment(session, first, "Eve", " \n ")
        with pytest.raises(blog.InvalidInput, match="an author needs 1 to 100 characters"):
            blog.add_comment(session, first, "", "Hello")
        assert blog.read_article(session, first).comments == []


def test_publishing_refuses_blank_titles_and_tags():
    with Session() as session:
        with pytest.raises(blog.InvalidInput, match="a title needs 1 to 200 characters"):
            blog.publish(session, " ", "Text", date(2030, 1, 1))
        with pytest.raises(blog.InvalidInput, match="a tag needs 1 to 50 characters"):
            blog.publish(session, "Title", "Text", date(2030, 1, 1), ["orm", " "])


def test_reading_a_missing_article_is_refused(published):
    with Session(published) as session, pytest.raises(blog.NoSuchArticle):
        blog.read_article(session, 999)


def test_deleting_an_article_takes_its_comments_and_keeps_its_tags(published):
    with Session(published) as session:
        query = select(Article).where(Article.title == "Day 2").order_by(Article.id)
        article = session.scalars(query).first()
        session.delete(article)
        session.commit()
        assert session.scalar(select(func.count()).select_from(blog.Comment)) == 0
        assert session.scalar(select(func.count()).select_from(Tag)) == 2
