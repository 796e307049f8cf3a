FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
ENV STATIC_ROOT=/app/staticfiles \
    STATE_DIR=/app/var \
    HOST=0.0.0.0 \
    PORT=8000
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput --verbosity 0
RUN useradd --system --uid 10001 --no-create-home echo \
    && mkdir -p /app/var /app/media && chown echo /app/var /app/media

USER echo
EXPOSE 8000
CMD ["python", "manage.py", "serve"]
