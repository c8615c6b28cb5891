"""newswatch's application package: crawling, extraction, archive, facts, service, CLI."""
