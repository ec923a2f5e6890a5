"""Resource types behind one interface; see ``registry`` for the list."""
