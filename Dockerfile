# Production image: gunicorn serving Django, static files by whitenoise. Used by docker-compose.yml.
FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime assets only: axe-core (browser tests) is a dev dependency.
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=pbr.settings.production
WORKDIR /app
RUN useradd --create-home --uid 1000 pbr
# WeasyPrint (PDF statements) needs Pango, HarfBuzz and fontconfig, and at least one font.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    libharfbuzz-subset0 fontconfig fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY --from=assets /app/node_modules ./node_modules
COPY . .
# collectstatic needs the keys to import production settings; these are thrown away.
RUN SECRET_KEY=build-only-$(python -c "import secrets; print(secrets.token_urlsafe(60))") \
    PSEUDONYM_KEY=build-only-$(python -c "import secrets; print(secrets.token_urlsafe(48))") \
    python manage.py collectstatic --noinput \
 && mkdir -p var/evidence && chown -R pbr:pbr var
USER pbr
EXPOSE 8000
CMD ["gunicorn", "pbr.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
