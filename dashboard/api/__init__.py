"""HTTP routes of the Flask server beside the Dash pages, one module an area."""
