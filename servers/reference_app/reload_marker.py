"""Touched by the lab to make the Werkzeug reloader restart its child.

The app imports this module so that the stat reloader watches it. Touching it (a new
mtime, same content) is the "developer saved a file" of the local incident; it changes
no behaviour.
"""
