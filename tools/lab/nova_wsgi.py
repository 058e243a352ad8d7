# nova-api's WSGI application for uwsgi (`wsgi-file`). Debian ships the equivalent /usr/bin/nova-api-wsgi
# only in nova-common, which the lab does not install (docs/development.md, the lab); python3-nova has the
# module. nova reads api-paste.ini and nova.conf from $OS_NOVA_CONFIG_DIR (nova/api/openstack/wsgi_app.py).
from nova.api.openstack.compute.wsgi import init_application

application = init_application()
