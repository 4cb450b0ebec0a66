"""The web console's static files (index.html, console.js, console.css), served by
`robo_os.brain.api.routes.console` and read with importlib.resources."""
