/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "driver.h"

/*
 * Restores the save image @path into @dom (locked, inactive): used for
 * managed save images. On success @dom is running (or paused) and the
 * events are the caller's.
 */
gboolean xm_save_restore_into(XmDomObj *dom, const char *path, gboolean paused,
                              GError **error);
void xm_save_unlink(const char *path);

int xmDomainSave(virDomainPtr dom, const char *to);
int xmDomainSaveFlags(virDomainPtr dom, const char *to, const char *dxml,
                      unsigned int flags);
int xmDomainRestore(virConnectPtr conn, const char *from);
int xmDomainRestoreFlags(virConnectPtr conn, const char *from, const char *dxml,
                         unsigned int flags);
char *xmDomainSaveImageGetXMLDesc(virConnectPtr conn, const char *file,
                                  unsigned int flags);
int xmDomainManagedSave(virDomainPtr dom, unsigned int flags);
int xmDomainHasManagedSaveImage(virDomainPtr dom, unsigned int flags);
int xmDomainManagedSaveRemove(virDomainPtr dom, unsigned int flags);
int xmDomainAbortJob(virDomainPtr dom);
int xmDomainGetJobInfo(virDomainPtr dom, virDomainJobInfoPtr info);
int xmDomainGetJobStats(virDomainPtr dom, int *type, virTypedParameterPtr *params,
                        int *nparams, unsigned int flags);
