"""Tests of siglip_retriever.app: the web app's API, its server, and the page in a browser."""
