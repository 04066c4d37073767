"""The citizen verification page, `/` and `/verify/{code}`: rendered by the API itself, in Catalan, Spanish, English."""
