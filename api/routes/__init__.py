"""The API's routes, one module per user group (``clinic``, ``assessor``, ``finance``)."""
