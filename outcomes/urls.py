"""Returns, claims and evidence pages (the outcomes app)."""

urlpatterns = []
