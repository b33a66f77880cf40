"""The reference services' own tests (a package, so that its conftest is not `conftest`)."""
