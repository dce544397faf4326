"""Test support: local issuers, tenant documents, events, a harness around Authorizer."""
