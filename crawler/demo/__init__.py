"""The bundled offline demo (`newswatch demo`): sample site, steps and runner."""
