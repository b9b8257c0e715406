"""openmsi's admin pages (spec admin.md): ``router`` serves them, ``service`` gathers and
changes what they show through the REST routes' services, ``sessions`` keeps their sign-in,
cookie signatures and form keys. Templates and the stylesheet ship inside the package."""
