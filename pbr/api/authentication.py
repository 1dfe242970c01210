"""Organisation API tokens: `Authorization: Token <key>`."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from ..models import ApiToken, hash_token_key


class OrganisationTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the header as ‘Authorization: Token <key>’.")
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.") from exc
        token = (ApiToken.objects.select_related("created_by", "organisation")
                 .filter(key_hash=hash_token_key(key)).first())
        if token is None or not token.is_active:
            raise exceptions.AuthenticationFailed("This token is not valid or has been revoked.")
        user = token.created_by
        if not user.is_active or user.organisation_id != token.organisation_id:
            raise exceptions.AuthenticationFailed(
                "The person who issued this token no longer has access; issue a new token.")
        # Avoid a write on every request: record use at most once a minute.
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return user, token

    def authenticate_header(self, request):
        return self.keyword


class OrganisationTokenScheme(OpenApiAuthenticationExtension):
    target_class = OrganisationTokenAuthentication
    name = "organisationToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Organisation API token: `Token <key>`."}
