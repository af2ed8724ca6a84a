"""The dashboard: the page, its panels, actions, login and the SVG charts."""
