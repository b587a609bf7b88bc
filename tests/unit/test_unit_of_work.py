"""The unit of work (ates/unit_of_work.py): one transaction that every begin() and read() joins."""


def test_inside_one_transaction_every_begin_and_read_joins_it_and_it_commits_once(tmp_path):
    from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select

    from ates.unit_of_work import UnitOfWork

    metadata = MetaData()
    things = Table("things", metadata, Column("id", Integer, primary_key=True))
    uow = UnitOfWork.from_url(f"sqlite:///{tmp_path / 'one.db'}")
    metadata.create_all(uow.engine)

    def count(session):
        return session.scalar(select(func.count()).select_from(things))

    with uow.one_transaction() as outer:
        with uow.begin() as session:
            assert session is outer
            session.execute(insert(things).values(id=1))
        with uow.read() as session:
            assert session is outer and count(session) == 1  # its own write, not yet committed
        with uow.begin() as session:
            session.execute(insert(things).values(id=2))
    with uow.read() as session:
        assert count(session) == 2
    try:
        with uow.one_transaction():
            with uow.begin() as session:
                session.execute(insert(things).values(id=3))
            raise RuntimeError("the request failed")
    except RuntimeError:
        pass
    with uow.read() as session:
        assert count(session) == 2  # nothing of the failed block
    uow.dispose()
