"""All SQL of the service, one module per aggregate: `async def f(conn, *, ...) -> rows`; callers
own the transaction. Import the module you need: `from app.queries import offers as offers_sql`.
"""
