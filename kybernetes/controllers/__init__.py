"""Controllers: reconcilers that watch the API through shared informers and act only through the API."""
