"""spatial/ stays importable without the web or the database layer."""

import subprocess
import sys


def test_importing_spatial_loads_no_web_or_database_module() -> None:
    code = (
        "import sys, spatial\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & {'fastapi', 'starlette', 'sqlalchemy', 'asyncpg', 'app'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
