"""The shared state: the store's folder and files (``files``); later the database too."""
