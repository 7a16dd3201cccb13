"""What every test process needs before its first test.

Several tests run pytest in-process on small fixture projects (pytester), which
unloads the modules such a run imported when it ends. SQLAlchemy's dialects
register their SQL functions once per import, so a dialect that one run
imported and a later run imports again warns that a function is registered
twice, and this project turns that warning into an error. Importing every
dialect the harness names here, once, keeps them loaded for the whole process.
"""

import sqlalchemy.dialects.mysql  # noqa: F401
import sqlalchemy.dialects.postgresql  # noqa: F401
import sqlalchemy.dialects.sqlite  # noqa: F401
